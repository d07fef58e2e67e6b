//! What `canopy compare` reports: one [`Row`] per (operation, system), the [`Report`] written
//! by `--json` (its field names are what users' scripts read), and the table printed on
//! stdout with the ratios peer ÷ Canopy and Canopy ÷ its crypto floor.

use std::fmt::Write;

use canopy_engine::crypto::{CipherSuite, X25519Backend};
use serde::Serialize;

use super::floor::{LaneCosts, PrimitiveCosts};
use crate::catalogue::Operation;
use crate::peers::PeerKind;

/// One measured (operation, system).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The catalogue operation's name ([`Operation::name`]).
    pub op: &'static str,
    /// The cipher suite it ran in (RFC 9420 code point).
    pub suite: u16,
    /// "canopy", "openmls" or "mls-rs".
    pub system: &'static str,
    /// Median over the samples, `None` if the system did not finish.
    pub median_ms: Option<f64>,
    /// Bytes on the wire the operation produced (commit + Welcome + out-of-band tree) or
    /// consumed (process: the commit; join: the Welcome).
    pub bytes: Option<u64>,
    /// HPKE seals (counted in the messages themselves, so the same way for every system).
    pub seals: Option<u64>,
    /// Canopy only: the crypto floor in ms, priced with the per-primitive costs measured at
    /// the start of the run (aws-lc's X25519, whatever the row's backend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor_ms: Option<f64>,
    /// Canopy only, on a backend with lanes (`avx2`, `avx512`) in a suite with X25519 or
    /// Ed25519: the floor with X25519 and Ed25519 verification priced at the cheaper of one
    /// aws-lc call and one lane of a full batch on the row's backend (the report's
    /// `lane_costs_us`). A lower bound that a small operation, whose few calls fill no batch,
    /// does not reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lanes_floor_ms: Option<f64>,
    /// Canopy only, in a suite with X25519 (1, 3): the X25519 backend the row ran on
    /// (`portable` = aws-lc, `avx2`, `avx512`), as `--crypto` resolved it on this host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crypto: Option<&'static str>,
    /// Canopy only, in a suite with Ed25519 (1, 3): the Ed25519 verifier of the process
    /// (`portable` = aws-lc, `avx2`, `avx512`: curve25519-dalek's backends), which
    /// `CANOPY_CRYPTO` chose once for every row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crypto_ed25519: Option<&'static str>,
    /// Samples taken.
    pub samples: usize,
    /// Why there is no figure, if there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// One timed run of an operation by one system.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Wall time of the operation alone.
    pub ms: f64,
    /// [`Sizes::message_bytes`](crate::catalogue::Sizes::message_bytes).
    pub bytes: u64,
    /// HPKE seals in those messages ([`crate::catalogue::seals_in`]).
    pub seals: u64,
    /// Canopy only: the crypto floor of the run's work.
    pub floor_ms: Option<f64>,
    /// Canopy only, on a backend with lanes: the floor of the run's work on that backend.
    pub lanes_floor_ms: Option<f64>,
}

impl Row {
    /// The row of `system` on `op` in `suite` from its samples; no median if `status` says
    /// why the system stopped. Sizes are the first sample's (every sample does the same work).
    pub fn from_samples(
        op: Operation,
        suite: u16,
        system: &'static str,
        samples: &[Sample],
        status: Option<String>,
    ) -> Row {
        Row {
            op: op.name(),
            suite,
            system,
            median_ms: if status.is_some() {
                None
            } else {
                median(samples.iter().map(|x| x.ms).collect())
            },
            bytes: samples.first().map(|x| x.bytes),
            seals: samples.first().map(|x| x.seals),
            floor_ms: median(samples.iter().filter_map(|x| x.floor_ms).collect()),
            lanes_floor_ms: median(samples.iter().filter_map(|x| x.lanes_floor_ms).collect()),
            crypto: None,
            crypto_ed25519: None,
            samples: samples.len(),
            status,
        }
    }

    /// The row, naming the X25519 backend it ran on and the Ed25519 verifier that goes with
    /// it (`canopy_engine::crypto::backend::ed25519_for_x25519`).
    pub fn with_crypto(self, backend: X25519Backend) -> Row {
        let ed25519 = canopy_engine::crypto::backend::ed25519_for_x25519(backend);
        Row {
            crypto: Some(backend.name()),
            crypto_ed25519: Some(ed25519.name()),
            ..self
        }
    }

    /// The row of a system that never got to run `op` in `suite`.
    pub fn failed(op: Operation, suite: u16, system: &'static str, why: String) -> Row {
        Row::from_samples(op, suite, system, &[], Some(why))
    }
}

/// A peer left out of a comparison because its crypto provider does not run the suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// "openmls" or "mls-rs".
    pub system: &'static str,
    /// Why, in words (the provider, the suite, the suites it runs).
    pub reason: String,
}

impl Skipped {
    /// `kind`, which does not run `suite`.
    pub fn new(kind: PeerKind, suite: CipherSuite) -> Self {
        Skipped {
            system: kind.name(),
            reason: format!(
                "{} does not run cipher suite {} ({}); {kind} runs suites {}",
                kind.crypto_provider(),
                suite.id(),
                suite.name(),
                kind.suites()
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The JSON written by `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Group size.
    pub members: u32,
    /// The start state's tree shape.
    pub state: String,
    /// The cipher suite of every row (RFC 9420 code point).
    pub suite: u16,
    /// Its RFC 9420 name.
    pub suite_name: &'static str,
    /// Peers not run because they do not run the suite (absent when none was left out).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// Rayon threads of the run.
    pub threads: usize,
    /// Samples per operation and system.
    pub samples: usize,
    /// Per-primitive costs measured at the start of the run.
    pub primitive_costs_us: PrimitiveCosts,
    /// Per backend with lanes among the rows' (in a suite with X25519 or Ed25519): what its
    /// X25519 and Ed25519 verification cost per call in full batches, measured at the start of
    /// the run; what the rows' `lanes_floor_ms` price.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lane_costs_us: Vec<LaneCosts>,
    /// One row per operation and system.
    pub rows: Vec<Row>,
}

/// The median (the upper one of an even count), `None` for no values.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

impl Report {
    /// A row's median ÷ Canopy's median on the same operation: for a peer, Canopy's first
    /// row (the first `--crypto` backend); for a Canopy row on another backend, that first
    /// row too. `None` for the first row itself (and rows on its backend) and where either
    /// has no figure.
    pub fn vs_canopy(&self, row: &Row) -> Option<f64> {
        let first = self
            .rows
            .iter()
            .find(|r| r.op == row.op && r.system == "canopy")?;
        if row.system == "canopy" && row.crypto == first.crypto {
            return None;
        }
        let canopy = first.median_ms?;
        match row.median_ms {
            Some(m) if canopy > 0.0 => Some(m / canopy),
            _ => None,
        }
    }

    /// The table printed on stdout: per operation, each system's median, the ratio
    /// peer ÷ Canopy (and Canopy on another X25519 backend ÷ Canopy on the first), bytes,
    /// seals, Canopy's ratio to its floor and its X25519 backend; then what each operation is
    /// (from the catalogue).
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "canopy compare: {} members, state {}, suite {} ({}), {} threads, {} samples \
             (medians)",
            self.members, self.state, self.suite, self.suite_name, self.threads, self.samples
        );
        for skipped in &self.skipped {
            let _ = writeln!(s, "{} skipped: {}", skipped.system, skipped.reason);
        }
        let _ = writeln!(
            s,
            "{:<8} {:<8} {:>12} {:>10} {:>12} {:>8} {:>10} {:>9} {:>9}  crypto",
            "op",
            "system",
            "median ms",
            "vs canopy",
            "bytes",
            "seals",
            "floor ms",
            "÷ floor",
            "÷ lanes"
        );
        for row in &self.rows {
            let ratio = self
                .vs_canopy(row)
                .map_or(String::new(), |r| format!("{r:.2}×"));
            let f = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3}"));
            let over_floor = over_floor(row).map_or(String::new(), |r| format!("{r:.2}×"));
            let over_lanes = over_lanes_floor(row).map_or(String::new(), |r| format!("{r:.2}×"));
            let line = format!(
                "{:<8} {:<8} {:>12} {:>10} {:>12} {:>8} {:>10} {:>9} {:>9}{}{}",
                row.op,
                row.system,
                f(row.median_ms),
                ratio,
                row.bytes.map_or("—".into(), |b| b.to_string()),
                row.seals.map_or("—".into(), |s| s.to_string()),
                f(row.floor_ms),
                over_floor,
                over_lanes,
                row.crypto.map_or(String::new(), |c| format!("  {c}")),
                row.status
                    .as_ref()
                    .map_or(String::new(), |s| format!("  ({s})")),
            );
            // A row without a ratio or a backend would end in padding.
            let _ = writeln!(s, "{}", line.trim_end());
        }
        if self.rows.iter().any(|r| r.floor_ms.is_some()) {
            let _ = writeln!(
                s,
                "÷ floor: Canopy's median over its crypto floor (exact counts × aws-lc's costs \
                 ÷ threads; docs/measurements.md)"
            );
        }
        if self.rows.iter().any(|r| r.lanes_floor_ms.is_some()) {
            let _ = writeln!(
                s,
                "÷ lanes: over the floor of the row's backend, its lanes' costs where cheaper \
                 (a bound that operations too small to fill a batch do not reach)"
            );
        }
        let mut ops: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !ops.contains(&row.op) {
                ops.push(row.op);
            }
        }
        let described: Vec<Operation> = Operation::ALL
            .iter()
            .copied()
            .filter(|o| ops.contains(&o.name()))
            .collect();
        if !described.is_empty() {
            let _ = writeln!(s, "operations (catalogue, docs/operations.md):");
            for op in described {
                let _ = writeln!(s, "  {:<16} {}", op.name(), op.summary());
            }
        }
        s
    }
}

/// A row's median ÷ its crypto floor (Canopy's rows only).
pub fn over_floor(row: &Row) -> Option<f64> {
    ratio(row.median_ms, row.floor_ms)
}

/// A row's median ÷ its backend's floor (Canopy's rows on a backend with lanes only).
pub fn over_lanes_floor(row: &Row) -> Option<f64> {
    ratio(row.median_ms, row.lanes_floor_ms)
}

fn ratio(m: Option<f64>, floor: Option<f64>) -> Option<f64> {
    match (m, floor) {
        (Some(m), Some(fl)) if fl > 0.0 => Some(m / fl),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: f64) -> Sample {
        Sample {
            ms,
            bytes: 1695,
            seals: 12,
            floor_ms: Some(ms / 2.0),
            lanes_floor_ms: None,
        }
    }

    fn costs() -> PrimitiveCosts {
        PrimitiveCosts::from_profile(&crate::costs::CostProfile::from_costs(
            crate::costs::HostInfo::default(),
            |_| 1000.0,
        ))
    }

    fn report(rows: Vec<Row>) -> Report {
        Report {
            members: 1000,
            state: "populated".into(),
            suite: 1,
            suite_name: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519",
            skipped: Vec::new(),
            threads: 2,
            samples: 3,
            primitive_costs_us: costs(),
            lane_costs_us: Vec::new(),
            rows,
        }
    }

    #[test]
    fn median_is_the_middle_value() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0]), Some(3.0));
        assert_eq!(median(vec![5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(3.0));
    }

    #[test]
    fn a_row_is_the_median_of_its_samples() {
        let samples = [sample(3.0), sample(1.0), sample(2.0)];
        let row = Row::from_samples(Operation::Commit, 1, "canopy", &samples, None);
        assert_eq!(row.op, "commit");
        assert_eq!(row.median_ms, Some(2.0));
        assert_eq!(row.floor_ms, Some(1.0));
        assert_eq!(
            (row.bytes, row.seals, row.samples),
            (Some(1695), Some(12), 3)
        );
        // A system that stopped keeps its sizes and sample count but has no median.
        let row = Row::from_samples(
            Operation::Commit,
            1,
            "mls-rs",
            &samples[..1],
            Some("did not finish within 1 s".into()),
        );
        assert_eq!((row.median_ms, row.samples), (None, 1));
        let row = Row::failed(Operation::Join, 1, "openmls", "join failed".into());
        assert_eq!((row.median_ms, row.bytes, row.samples), (None, None, 0));
    }

    /// The JSON field names are an interface: scripts read them.
    #[test]
    fn json_rows_keep_their_field_names() {
        let canopy = Row::from_samples(Operation::Process, 1, "canopy", &[sample(0.5)], None)
            .with_crypto(X25519Backend::AwsLc);
        let mut peer = canopy.clone();
        peer.system = "openmls";
        peer.floor_ms = None;
        peer.crypto = None;
        peer.crypto_ed25519 = None;
        peer.status = Some("failed: x".into());
        let json = serde_json::to_value(report(vec![canopy, peer])).unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(
            keys(&json),
            [
                "members",
                "primitive_costs_us",
                "rows",
                "samples",
                "state",
                "suite",
                "suite_name",
                "threads"
            ]
        );
        assert_eq!(
            keys(&json["primitive_costs_us"]),
            [
                "aead_per_kib",
                "ecdsa_p256_sign",
                "ecdsa_p256_verify",
                "ecdsa_p384_sign",
                "ecdsa_p384_verify",
                "ecdsa_p521_sign",
                "ecdsa_p521_verify",
                "ed25519_msg_per_kib",
                "ed25519_sign",
                "ed25519_verify",
                "ed448_msg_per_kib",
                "ed448_sign",
                "ed448_verify",
                "hash_per_kib",
                "hkdf_expand",
                "mlkem1024_decaps",
                "mlkem1024_encaps",
                "mlkem1024_keygen",
                "mlkem768_decaps",
                "mlkem768_encaps",
                "mlkem768_keygen",
                "p256_base",
                "p256_dh",
                "p384_base",
                "p384_dh",
                "p521_base",
                "p521_dh",
                "x25519_base",
                "x25519_dh",
                "x448_base",
                "x448_dh"
            ]
        );
        // Canopy's row has a floor, its X25519 backend and no status; a peer's the opposite.
        assert_eq!(
            keys(&json["rows"][0]),
            [
                "bytes",
                "crypto",
                "crypto_ed25519",
                "floor_ms",
                "median_ms",
                "op",
                "samples",
                "seals",
                "suite",
                "system"
            ]
        );
        assert_eq!(
            keys(&json["rows"][1]),
            [
                "bytes",
                "median_ms",
                "op",
                "samples",
                "seals",
                "status",
                "suite",
                "system"
            ]
        );
        assert_eq!(json["suite"], 1);
        assert_eq!(json["rows"][0]["suite"], 1);
        assert_eq!(json["rows"][0]["op"], "process");
        assert_eq!(json["rows"][0]["crypto"], "portable");
        // The verifier that goes with aws-lc's X25519 is aws-lc, whatever the process chose.
        assert_eq!(json["rows"][0]["crypto_ed25519"], "portable");
        assert_eq!(json["rows"][0]["median_ms"], 0.5);
        assert_eq!(json["rows"][1]["status"], "failed: x");
    }

    /// With several X25519 backends, each Canopy row names its own, and the rows after the
    /// first are compared with the first (as the peers are).
    #[test]
    fn canopy_rows_on_other_backends_are_compared_with_the_first() {
        let portable = Row::from_samples(Operation::Commit, 1, "canopy", &[sample(4.0)], None)
            .with_crypto(X25519Backend::AwsLc);
        let mut lanes = Row::from_samples(Operation::Commit, 1, "canopy", &[sample(1.0)], None)
            .with_crypto(X25519Backend::Avx512Ifma);
        lanes.lanes_floor_ms = Some(0.25);
        let peer = Row::from_samples(Operation::Commit, 1, "mls-rs", &[sample(6.0)], None);
        let r = report(vec![portable, lanes, peer]);
        assert_eq!(r.vs_canopy(&r.rows[0]), None);
        assert_eq!(r.vs_canopy(&r.rows[1]), Some(0.25));
        assert_eq!(
            r.vs_canopy(&r.rows[2]),
            Some(1.5),
            "peers against the first row"
        );
        let table = r.table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[1].ends_with("÷ floor   ÷ lanes  crypto"), "{table}");
        assert!(
            lines[2].starts_with("commit   canopy")
                && lines[2].ends_with("2.00×            portable")
        );
        assert!(lines[3].contains(" 0.25× ") && lines[3].ends_with("2.00×     4.00×  avx512"));
        assert!(
            lines[4].ends_with("2.00×"),
            "a peer names no backend: {table}"
        );
        // Each ratio is explained under the rows.
        assert!(lines[5].starts_with("÷ floor: "), "{table}");
        assert!(lines[6].starts_with("÷ lanes: "), "{table}");
        let without_lanes = report(vec![r.rows[0].clone()]).table();
        assert!(without_lanes.contains("÷ floor: ") && !without_lanes.contains("÷ lanes: "));
    }

    /// The table's first line names the suite, and a line per skipped peer says why it was
    /// left out; the JSON carries both.
    #[test]
    fn the_suite_and_skipped_peers_are_reported() {
        let suite = CipherSuite::Mls256P521Aes256GcmSha512P521;
        let mut r = report(vec![Row::from_samples(
            Operation::Commit,
            5,
            "canopy",
            &[sample(2.0)],
            None,
        )]);
        r.suite = suite.id();
        r.suite_name = suite.name();
        r.skipped = vec![Skipped::new(PeerKind::OpenMls, suite)];
        let table = r.table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].contains(", suite 5 (MLS_256_DHKEMP521_AES256GCM_SHA512_P521), "),
            "{table}"
        );
        assert_eq!(
            lines[1],
            "openmls skipped: openmls_rust_crypto 0.6 / openmls_libcrux_crypto 0.4 does not run \
             cipher suite 5 (MLS_256_DHKEMP521_AES256GCM_SHA512_P521); openmls runs suites 1, 2, \
             3, 77"
        );
        assert!(lines[2].starts_with("op "), "{table}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["suite"], 5);
        assert_eq!(json["rows"][0]["suite"], 5);
        assert_eq!(json["skipped"][0]["system"], "openmls");
        assert_eq!(json["skipped"][0]["reason"], r.skipped[0].reason);
        // Nothing skipped: no `skipped` key, no line.
        r.skipped.clear();
        assert!(serde_json::to_value(&r).unwrap().get("skipped").is_none());
        assert!(r.table().lines().nth(1).unwrap().starts_with("op "));
    }

    #[test]
    fn ratios_are_peer_over_canopy_and_canopy_over_floor() {
        let canopy = Row::from_samples(Operation::Commit, 1, "canopy", &[sample(2.0)], None);
        let peer = Row::from_samples(Operation::Commit, 1, "mls-rs", &[sample(5.0)], None);
        let other_op = Row::from_samples(Operation::Join, 1, "mls-rs", &[sample(7.0)], None);
        let stopped = Row::failed(Operation::Commit, 1, "openmls", "failed".into());
        let r = report(vec![canopy, peer, other_op, stopped]);
        assert_eq!(
            r.vs_canopy(&r.rows[0]),
            None,
            "Canopy is not compared with itself"
        );
        assert_eq!(r.vs_canopy(&r.rows[1]), Some(2.5));
        assert_eq!(r.vs_canopy(&r.rows[2]), None, "no Canopy row for join");
        assert_eq!(r.vs_canopy(&r.rows[3]), None, "no figure");
        assert_eq!(over_floor(&r.rows[0]), Some(2.0));

        let table = r.table();
        let line = |start: &str| {
            table
                .lines()
                .find(|l| l.starts_with(start))
                .unwrap()
                .to_string()
        };
        assert!(line("commit   mls-rs").contains("2.50×"), "{table}");
        assert!(line("commit   canopy").contains("2.00×"), "{table}");
        assert!(line("commit   openmls").ends_with("(failed)"), "{table}");
        // Each operation is named with what it measures.
        assert!(table.contains(&format!(
            "  commit           {}",
            Operation::Commit.summary()
        )));
        assert!(table.contains(&format!("  join             {}", Operation::Join.summary())));
    }
}
