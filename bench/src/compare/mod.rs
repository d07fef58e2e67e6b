//! `canopy compare`: Canopy and the peers, side by side on the same group state.
//!
//! Every operation is a catalogue operation ([`crate::catalogue`]): the start state, who
//! acts and what is timed are defined there, and are the same in the gate and the criterion
//! benches. Canopy generates the state and hands it to each peer the way a real group would:
//! the creator adds the peer's KeyPackage in a commit whose Welcome carries the ratchet tree,
//! the peer joins from that Welcome (an interop test at scale), and every member processes
//! every setup commit. All systems then start each operation from the same epoch of the same
//! group. Operations run interleaved (Canopy, peer 1, peer 2, Canopy, …), each sample from a
//! fresh copy of the start state (copying is not timed).
//!
//! Everything runs in one cipher suite (`--suite`, default 1): the generated state, Canopy's
//! members and KeyPackages, and each peer's member. A peer whose crypto provider does not run
//! the suite ([`PeerKind::supports_suite`]) is skipped with a line saying so, or refused if
//! `--peers` names it.
//!
//! - [`floor`]: Canopy's crypto floor ([`PrimitiveCosts`]).
//! - [`measure`]: the samples of one operation by every system.
//! - [`report`]: the rows, the JSON report and the printed table.

pub mod floor;
pub mod measure;
pub mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use canopy_engine::crypto::{CipherSuite, Kem, SignatureScheme, X25519Backend};
use canopy_engine::group::{GroupConfig, Randomness};
use canopy_engine::key_package::Clock;
use canopy_workloads::states::{today, StateKind};

use crate::catalogue::{Operation, Start};
use crate::peers::PeerKind;
pub use floor::PrimitiveCosts;
pub use report::{Report, Row, Skipped};

/// Arguments of `canopy compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// Group size.
    #[arg(long, default_value_t = 1000)]
    pub members: u32,
    /// Shape of the generated group state.
    #[arg(long, default_value = "populated")]
    pub state: StateKind,
    /// Operations, comma-separated (what each is: docs/operations.md).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "build,join,commit,process,add1,remove1"
    )]
    pub ops: Vec<Operation>,
    /// Peers, comma-separated (openmls, mls-rs); `--peers ''` for Canopy alone. Default: both,
    /// those that run `--suite` (a peer named here that does not run it is an error).
    #[arg(long, value_delimiter = ',')]
    pub peers: Option<Vec<String>>,
    /// Cipher suite, by its code point (1–7 of RFC 9420; experimental: 77 = X-Wing, 65002 =
    /// ML-KEM-768, 65003 = ML-KEM-1024): of the generated group, Canopy's members and each
    /// peer's.
    #[arg(long, default_value_t = 1)]
    pub suite: u16,
    /// Samples per operation and system.
    #[arg(long, default_value_t = 5)]
    pub samples: usize,
    /// Seed of the generated state.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Seconds after which one peer sample is abandoned (reported, not silent).
    #[arg(long, default_value_t = 120)]
    pub peer_time_limit: u64,
    /// Canopy's X25519 backends, comma-separated (`portable` = aws-lc, `auto`, `avx2`,
    /// `avx512`): one Canopy row per backend and operation, in this order. Default: the one
    /// `CANOPY_CRYPTO` chooses.
    #[arg(long, value_delimiter = ',')]
    pub crypto: Vec<String>,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Settings of one comparison.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    /// Group size.
    pub members: u32,
    /// The start state's tree shape.
    pub state: StateKind,
    /// Catalogue operations to measure.
    pub ops: Vec<Operation>,
    /// Peers compared beside Canopy (each runs [`CompareConfig::suite`]).
    pub peers: Vec<PeerKind>,
    /// Peers left out because they do not run the suite, and why.
    pub skipped: Vec<Skipped>,
    /// The cipher suite of every group and member.
    pub suite: CipherSuite,
    /// At least 1.
    pub samples: usize,
    /// Seed of the generated state and KeyPackages.
    pub seed: u64,
    /// A peer operation (one sample) that takes longer is abandoned and reported as such.
    pub peer_time_limit: Duration,
    /// Canopy's X25519 backends, one Canopy row each per operation; empty means the one
    /// `CANOPY_CRYPTO` chooses.
    pub crypto: Vec<X25519Backend>,
}

impl CompareArgs {
    /// The settings these arguments ask for: a suite Canopy implements; peers by name (empty
    /// names ignored, so `--peers ''` is Canopy alone), each running the suite, or by default
    /// every peer that runs it (the others skipped, saying why); at least one sample; the
    /// X25519 backends this host runs (a backend it lacks is an error naming it), several
    /// only in a suite with X25519.
    pub fn config(&self) -> Result<CompareConfig> {
        let suite = CipherSuite::from_u16(self.suite).ok_or_else(|| {
            anyhow!(
                "--suite {}: not a cipher suite Canopy implements (RFC 9420 code points {})",
                self.suite,
                CipherSuite::ALL
                    .iter()
                    .map(|s| s.id().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let (peers, skipped) = match &self.peers {
            Some(names) => {
                let peers = names
                    .iter()
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse())
                    .collect::<Result<Vec<PeerKind>>>()?;
                for kind in &peers {
                    ensure!(
                        kind.supports_suite(suite.id()),
                        "--peers {kind}: {}",
                        Skipped::new(*kind, suite).reason
                    );
                }
                (peers, Vec::new())
            }
            None => {
                let (peers, skipped): (Vec<PeerKind>, Vec<PeerKind>) = PeerKind::ALL
                    .into_iter()
                    .partition(|k| k.supports_suite(suite.id()));
                let skipped = skipped
                    .into_iter()
                    .map(|k| Skipped::new(k, suite))
                    .collect();
                (peers, skipped)
            }
        };
        let crypto = self
            .crypto
            .iter()
            .map(|c| X25519Backend::from_choice(c).with_context(|| format!("--crypto {c}")))
            .collect::<Result<Vec<_>>>()?;
        if crypto.len() > 1 && !backends_differ_in(suite) {
            bail!(
                "--crypto {}: suite {} ({}) has neither X25519 nor Ed25519, the primitives \
                 the backends differ in: its rows would all be one",
                self.crypto.join(","),
                suite.id(),
                suite.name()
            );
        }
        Ok(CompareConfig {
            members: self.members,
            state: self.state,
            ops: self.ops.clone(),
            peers,
            skipped,
            suite,
            samples: self.samples.max(1),
            seed: self.seed,
            peer_time_limit: Duration::from_secs(self.peer_time_limit),
            crypto,
        })
    }
}

/// Whether the backends of `--crypto` compute anything differently in `suite`: its HPKE is
/// X25519 (the lanes' batches) or its signatures are Ed25519 (the verifiers).
pub fn backends_differ_in(suite: CipherSuite) -> bool {
    suite.kem() == Kem::X25519 || suite.signature_scheme() == SignatureScheme::Ed25519
}

impl CompareConfig {
    /// The backends of Canopy's rows: [`CompareConfig::crypto`], or the default one.
    pub fn backends(&self) -> Result<Vec<X25519Backend>> {
        if self.crypto.is_empty() {
            Ok(vec![X25519Backend::process_default()?])
        } else {
            Ok(self.crypto.clone())
        }
    }
}

/// `canopy compare …`: run, print the table, write the JSON if asked.
pub fn main(args: &CompareArgs) -> Result<ExitCode> {
    let cfg = args.config()?;
    let report = run(&cfg)?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        write_json(&report, path)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Write `report` as pretty JSON to `path`, creating its directory.
pub fn write_json(report: &Report, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(report)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}

/// Run the comparison; returns the report (printed as a table by the caller).
pub fn run(cfg: &CompareConfig) -> Result<Report> {
    let threads = rayon::current_num_threads();
    for skipped in &cfg.skipped {
        eprintln!("{}: skipped: {}", skipped.system, skipped.reason);
    }
    eprintln!("measuring primitive costs…");
    // Lane costs only where the suite has X25519 or Ed25519 for the backends to differ in.
    let lane_backends = if backends_differ_in(cfg.suite) {
        cfg.backends()?
    } else {
        Vec::new()
    };
    let (costs, lanes) = PrimitiveCosts::measure_with_lanes(cfg.suite, &lane_backends)?;
    eprintln!(
        "generating {} state with {} members in suite {} (seed {})…",
        cfg.state,
        cfg.members,
        cfg.suite.id(),
        cfg.seed
    );
    // The peers make their KeyPackages valid from "now" on the wall clock, so the group
    // checks lifetimes against the wall clock too.
    let config = GroupConfig {
        clock: Clock::System,
        randomness: Randomness::System,
        ..GroupConfig::default()
    };
    let mut start = Start::new_in(cfg.suite, cfg.state, cfg.members, cfg.seed, today(), config)?;

    // The guests: the joiner if an operation is its, then each peer if one can run any.
    if cfg.ops.iter().any(|o| o.needs_joiner()) {
        eprintln!("the joiner (a Canopy member) joins at the end of the tree…");
        start.add_joiner()?;
    }
    let mut failed_peers = Vec::new();
    if cfg
        .ops
        .iter()
        .any(|o| o.uses_start_state() && o.peers_run())
    {
        for &kind in &cfg.peers {
            eprintln!(
                "{kind} joins the {}-member group…",
                start.creator.member_count()
            );
            if let Err(why) = measure::join_peer(&mut start, kind, cfg.peer_time_limit) {
                failed_peers.push((kind, why));
            }
        }
    }

    let mut rows = Vec::new();
    for &op in &cfg.ops {
        eprintln!("{op}…");
        rows.extend(measure::rows(&start, op, cfg, &costs, &lanes, threads)?);
        if op.uses_start_state() && op.peers_run() {
            for (kind, why) in &failed_peers {
                rows.push(Row::failed(op, cfg.suite.id(), kind.name(), why.clone()));
            }
        }
    }
    Ok(Report {
        members: cfg.members,
        state: cfg.state.to_string(),
        suite: cfg.suite.id(),
        suite_name: cfg.suite.name(),
        skipped: cfg.skipped.clone(),
        threads,
        samples: cfg.samples,
        primitive_costs_us: costs,
        lane_costs_us: lanes,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: CompareArgs,
    }

    fn parse(args: &[&str]) -> Result<CompareConfig> {
        let cli = Cli::try_parse_from(std::iter::once("compare").chain(args.iter().copied()))?;
        cli.args.config()
    }

    #[test]
    fn defaults_are_the_compared_operations_against_both_peers() {
        let cfg = parse(&[]).unwrap();
        assert_eq!(cfg.members, 1000);
        assert_eq!(cfg.state, StateKind::Populated);
        assert_eq!(cfg.ops, Operation::COMPARED);
        assert_eq!(cfg.peers, [PeerKind::OpenMls, PeerKind::MlsRs]);
        assert!(cfg.skipped.is_empty());
        assert_eq!(cfg.suite, CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
        assert_eq!(cfg.samples, 5);
        assert_eq!(cfg.seed, 1);
        assert_eq!(cfg.peer_time_limit, Duration::from_secs(120));
        assert!(cfg.crypto.is_empty());
        assert_eq!(
            cfg.backends().unwrap(),
            [X25519Backend::process_default().unwrap()]
        );
    }

    #[test]
    fn crypto_backends_parse_in_order() {
        let cfg = parse(&["--crypto", "portable,auto"]).unwrap();
        assert_eq!(cfg.crypto, [X25519Backend::AwsLc, X25519Backend::auto()]);
        assert_eq!(cfg.backends().unwrap(), cfg.crypto);
        let e = parse(&["--crypto", "portable,neon"]).unwrap_err();
        assert!(
            format!("{e:#}").starts_with("--crypto neon: \"neon\" names no"),
            "{e:#}"
        );
        for b in [X25519Backend::Avx2, X25519Backend::Avx512Ifma] {
            match parse(&["--crypto", b.name()]) {
                Ok(cfg) => assert_eq!(cfg.crypto, [b]),
                Err(e) => {
                    assert!(!b.is_available());
                    assert!(format!("{e:#}").contains(&format!("the {b} X25519 backend")));
                }
            }
        }
    }

    #[test]
    fn flags_parse() {
        let cfg = parse(&[
            "--members",
            "64",
            "--state",
            "fresh",
            "--ops",
            "commit,commit-creator,remove1-creator",
            "--peers",
            "mls-rs",
            "--samples",
            "3",
            "--seed",
            "9",
            "--peer-time-limit",
            "60",
        ])
        .unwrap();
        assert_eq!(cfg.members, 64);
        assert_eq!(cfg.state, StateKind::Fresh);
        assert_eq!(
            cfg.ops,
            [
                Operation::Commit,
                Operation::CommitCreator,
                Operation::Remove1Creator
            ]
        );
        assert_eq!(cfg.peers, [PeerKind::MlsRs]);
        assert_eq!((cfg.samples, cfg.seed), (3, 9));
        assert_eq!(cfg.peer_time_limit, Duration::from_secs(60));
    }

    /// `--suite`: by default the peers that run it, the others skipped with the reason; a
    /// peer named with `--peers` that does not run it, a suite Canopy does not implement and
    /// several X25519 backends in a suite without X25519 are errors.
    #[test]
    fn suites_choose_the_peers() {
        let cfg = parse(&["--suite", "2"]).unwrap();
        assert_eq!(cfg.suite, CipherSuite::Mls128P256Aes128GcmSha256P256);
        assert_eq!(cfg.peers, [PeerKind::OpenMls, PeerKind::MlsRs]);
        assert!(cfg.skipped.is_empty());

        let cfg = parse(&["--suite", "7"]).unwrap();
        assert_eq!(cfg.peers, [PeerKind::MlsRs]);
        assert_eq!(cfg.skipped.len(), 1);
        assert_eq!(cfg.skipped[0].system, "openmls");
        assert!(
            cfg.skipped[0]
                .reason
                .starts_with("openmls_rust_crypto 0.6 / openmls_libcrux_crypto 0.4 does not run cipher suite 7 ("),
            "{:?}",
            cfg.skipped
        );

        let cfg = parse(&["--suite", "4"]).unwrap();
        assert!(cfg.peers.is_empty());
        let skipped: Vec<&str> = cfg.skipped.iter().map(|s| s.system).collect();
        assert_eq!(skipped, ["openmls", "mls-rs"]);

        let cfg = parse(&["--suite", "5", "--peers", "mls-rs"]).unwrap();
        assert_eq!(
            (cfg.peers.as_slice(), cfg.skipped.len()),
            (&[PeerKind::MlsRs][..], 0)
        );
        let e = parse(&["--suite", "5", "--peers", "mls-rs,openmls"]).unwrap_err();
        assert!(
            format!("{e:#}").starts_with(
                "--peers openmls: openmls_rust_crypto 0.6 / openmls_libcrux_crypto 0.4 does not run cipher suite 5"
            ),
            "{e:#}"
        );
        for bad in ["0", "8", "65535"] {
            let e = parse(&["--suite", bad]).unwrap_err();
            assert!(
                format!("{e:#}").starts_with(&format!("--suite {bad}: not a cipher suite")),
                "{e:#}"
            );
        }
        assert!(parse(&["--suite", "p256"]).is_err());

        let e = parse(&["--suite", "2", "--crypto", "portable,auto"]).unwrap_err();
        assert!(
            format!("{e:#}").contains("has neither X25519 nor Ed25519"),
            "{e:#}"
        );
        assert!(parse(&["--suite", "3", "--crypto", "portable,auto"]).is_ok());
        // X-Wing: no X25519 batches, but Ed25519 signatures.
        assert!(parse(&["--suite", "77", "--crypto", "portable,auto"]).is_ok());
        assert!(parse(&["--suite", "2", "--crypto", "portable"]).is_ok());
    }

    #[test]
    fn empty_peers_mean_canopy_alone_and_zero_samples_mean_one() {
        let cfg = parse(&["--peers", "", "--samples", "0"]).unwrap();
        assert!(cfg.peers.is_empty());
        assert_eq!(cfg.samples, 1);
    }

    #[test]
    fn unknown_values_are_errors() {
        let e = parse(&["--peers", "openssl"]).unwrap_err();
        assert!(e.to_string().contains("unknown peer"), "{e}");
        assert!(parse(&["--ops", "commit,rotate"]).is_err());
        assert!(parse(&["--state", "sparse"]).is_err());
        assert!(parse(&["--members", "-3"]).is_err());
    }
}
