//! The gate's fixed, seeded scenarios and their exact work counts.
//!
//! Every scenario is one engine operation on a group state generated from a fixed seed at a
//! fixed time ([`GATE_NOW`]), with seeded group randomness, so every run performs exactly the
//! same primitives and produces messages of exactly the same sizes. The counts are the engine's
//! process-wide counters ([`canopy_engine::crypto::counters`]) read just before and just after
//! the operation; setup (state generation, cloning the start state) is outside that window.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use canopy_engine::batch::Executor;
use canopy_engine::codec::KeyPackage;
use canopy_engine::crypto::{counters, CipherSuite, Provider, Secret};
use canopy_engine::group::{CommitOptions, Group, GroupConfig, Randomness};
use canopy_engine::key_package::{Clock, KeyPackageSecrets};
use canopy_workloads::states::StateKind;

use crate::setup::{commit_bytes, numbered_kp, Shared};

/// The time every gate state and KeyPackage is centred on: 2026-01-01T00:00:00Z. Fixed so
/// that runs on different days are identical.
pub const GATE_NOW: u64 = 1_767_225_600;

/// Seed of every generated gate state.
pub const GATE_SEED: u64 = 1;

/// Group size of the gate scenarios: large enough that per-member work dominates, small enough
/// that the whole exact tier runs in seconds.
pub const GATE_MEMBERS: u32 = 1000;

/// Number of the KeyPackage added by the add-one scenario ([`numbered_kp`]).
const ADD1_KP: u32 = 1_000_001;
/// Number of the KeyPackage of the joiner in the join scenario.
const JOIN_KP: u32 = 1_000_002;

/// What a scenario does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The first member commits with an UpdatePath and no proposals.
    Commit,
    /// The last member processes that commit.
    Process,
    /// A new member joins from a Welcome carrying the ratchet tree.
    Join,
    /// A new group's creator adds `members - 1` members in one commit (tree in the Welcome).
    BulkAdd,
    /// The first member adds one member (tree in the Welcome, no path).
    Add1,
    /// The first member removes one member (commit with path).
    Remove1,
}

/// One gate scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// Stable name, the key in the baseline (`commit-populated-1000`).
    pub name: &'static str,
    /// The operation.
    pub action: Action,
    /// The generated state it starts from (unused for [`Action::BulkAdd`]).
    pub state: StateKind,
    /// Group size.
    pub members: u32,
}

/// Every gate scenario, in report order.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "commit-populated-1000",
        action: Action::Commit,
        state: StateKind::Populated,
        members: GATE_MEMBERS,
    },
    Scenario {
        name: "process-populated-1000",
        action: Action::Process,
        state: StateKind::Populated,
        members: GATE_MEMBERS,
    },
    Scenario {
        name: "commit-fresh-1000",
        action: Action::Commit,
        state: StateKind::Fresh,
        members: GATE_MEMBERS,
    },
    Scenario {
        name: "process-fresh-1000",
        action: Action::Process,
        state: StateKind::Fresh,
        members: GATE_MEMBERS,
    },
    Scenario {
        name: "join-populated-1000",
        action: Action::Join,
        state: StateKind::Populated,
        members: GATE_MEMBERS,
    },
    Scenario {
        name: "bulk-add-1000",
        action: Action::BulkAdd,
        state: StateKind::Populated,
        members: GATE_MEMBERS,
    },
    Scenario {
        name: "add1-populated-1000",
        action: Action::Add1,
        state: StateKind::Populated,
        members: GATE_MEMBERS,
    },
    Scenario {
        name: "remove1-populated-1000",
        action: Action::Remove1,
        state: StateKind::Populated,
        members: GATE_MEMBERS,
    },
];

/// The scenario called `name`.
pub fn find(name: &str) -> Result<Scenario> {
    SCENARIOS
        .iter()
        .copied()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            let names: Vec<_> = SCENARIOS.iter().map(|s| s.name).collect();
            anyhow!(
                "unknown gate scenario {name:?} (known: {})",
                names.join(", ")
            )
        })
}

/// The group configuration of every gate member: fixed clock, seeded randomness.
pub fn gate_config(executor: Executor) -> GroupConfig {
    GroupConfig {
        clock: Clock::Fixed(GATE_NOW),
        executor,
        randomness: Randomness::Seeded(Secret::new(vec![0x5e; 32])),
        ..GroupConfig::default()
    }
}

/// Exact work of one scenario run: every engine counter, plus message sizes, by name.
pub type Counts = BTreeMap<String, u64>;

/// The inputs of one scenario, prepared so that [`Prepared::run_with`] does nothing but the
/// operation on a copy of them.
#[derive(Debug)]
pub struct Prepared {
    /// The scenario.
    pub scenario: Scenario,
    op: PreparedOp,
}

#[derive(Debug)]
enum PreparedOp {
    /// `group.commit(options)` (also bulk add, on a freshly created group).
    Commit {
        group: Group,
        options: CommitOptions,
    },
    /// `group.process(message)`.
    Process { group: Group, message: Vec<u8> },
    /// `Group::join(welcome)`.
    Join {
        provider: Provider,
        welcome: Vec<u8>,
        kp: Box<KeyPackage>,
        secrets: Box<KeyPackageSecrets>,
        config: GroupConfig,
    },
}

/// Generated states, shared by the scenarios that start from the same one.
#[derive(Debug, Default)]
pub struct States {
    states: Vec<((StateKind, u32), Shared)>,
    executor: Option<Executor>,
}

impl States {
    /// An empty cache whose members run on `executor`.
    pub fn new(executor: Executor) -> Self {
        States {
            states: Vec::new(),
            executor: Some(executor),
        }
    }

    fn config(&self) -> GroupConfig {
        gate_config(self.executor.unwrap_or_default())
    }

    fn get(&mut self, kind: StateKind, members: u32) -> Result<&mut Shared> {
        let key = (kind, members);
        if let Some(i) = self.states.iter().position(|(k, _)| *k == key) {
            return Ok(&mut self.states[i].1);
        }
        let config = self.config();
        let shared = Shared::new(kind, members, GATE_SEED, GATE_NOW, config)?;
        self.states.push((key, shared));
        let last = self.states.len() - 1;
        Ok(&mut self.states[last].1)
    }
}

impl Prepared {
    /// Build the inputs of `scenario` (generating its state into `states` if needed).
    pub fn new(scenario: Scenario, states: &mut States) -> Result<Self> {
        let op = match scenario.action {
            Action::BulkAdd => {
                // Fixed KeyPackages and a creator from a fixed seed: the same inputs on every
                // run, whatever else runs before.
                let provider = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
                let adds = (1..scenario.members)
                    .map(|n| Ok(numbered_kp(&provider, n, GATE_NOW)?.0))
                    .collect::<Result<Vec<_>>>()?;
                let (signer, _) = provider.signature_key_pair_from_seed(&[0x42; 32])?;
                let group = Group::create(
                    provider,
                    b"canopy-gate-bulk-add",
                    b"creator",
                    signer,
                    states.config(),
                )?;
                PreparedOp::Commit {
                    group,
                    options: CommitOptions::new().adds(adds).ratchet_tree_in_welcome(),
                }
            }
            Action::Commit => {
                let shared = states.get(scenario.state, scenario.members)?;
                PreparedOp::Commit {
                    group: shared.admin.clone(),
                    options: CommitOptions::new().with_path(),
                }
            }
            Action::Add1 => {
                let shared = states.get(scenario.state, scenario.members)?;
                let (kp, _) = numbered_kp(&shared.provider, ADD1_KP, GATE_NOW)?;
                PreparedOp::Commit {
                    group: shared.admin.clone(),
                    options: CommitOptions::new()
                        .adds(vec![kp])
                        .ratchet_tree_in_welcome(),
                }
            }
            Action::Remove1 => {
                let shared = states.get(scenario.state, scenario.members)?;
                PreparedOp::Commit {
                    group: shared.admin.clone(),
                    options: CommitOptions::new().removes(vec![shared.victim()]),
                }
            }
            Action::Process => {
                let shared = states.get(scenario.state, scenario.members)?;
                let message = shared
                    .admin
                    .clone()
                    .commit(&CommitOptions::new().with_path())?
                    .commit;
                PreparedOp::Process {
                    group: shared.receiver.clone(),
                    message,
                }
            }
            Action::Join => {
                let shared = states.get(scenario.state, scenario.members)?;
                let (kp, secrets) = numbered_kp(&shared.provider, JOIN_KP, GATE_NOW)?;
                let welcome = shared.welcome_for(kp.clone())?;
                PreparedOp::Join {
                    provider: shared.provider,
                    welcome,
                    kp: Box::new(kp),
                    secrets: Box::new(secrets),
                    config: shared.config.clone(),
                }
            }
        };
        Ok(Prepared { scenario, op })
    }

    /// Run the operation once on a copy of the inputs. `start` is called right before the
    /// operation and `stop` right after it (copying the inputs happens before `start`); the
    /// result is the sizes of the messages the operation produced or consumed.
    pub fn run_with(
        &self,
        start: &mut dyn FnMut() -> Result<()>,
        stop: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Counts> {
        self.run_inner(start, stop, false)
    }

    /// Run the operation once on a copy of the inputs, inside [`measured_operation`]: the
    /// function Callgrind's `--toggle-collect` counts (see [`super::valgrind`]). Only the
    /// measured run goes through it, so a warm-up run with [`Prepared::run_with`] or
    /// [`Prepared::exact_counts`] in the same process is not counted.
    pub fn run_measured(&self) -> Result<Counts> {
        self.run_inner(&mut || Ok(()), &mut || Ok(()), true)
    }

    fn run_inner(
        &self,
        start: &mut dyn FnMut() -> Result<()>,
        stop: &mut dyn FnMut() -> Result<()>,
        measured: bool,
    ) -> Result<Counts> {
        // The operation itself, through `measured_operation` when it is the counted run.
        fn op<R>(measured: bool, f: impl FnOnce() -> R) -> R {
            if measured {
                measured_operation(f)
            } else {
                f()
            }
        }
        let mut bytes = Counts::new();
        match &self.op {
            PreparedOp::Commit { group, options } => {
                let mut g = group.clone();
                start()?;
                let out = op(measured, || g.commit(options));
                stop()?;
                let out = out?;
                bytes.insert("commit_bytes".into(), out.commit.len() as u64);
                bytes.insert(
                    "welcome_bytes".into(),
                    out.welcome.as_ref().map_or(0, |w| w.len() as u64),
                );
                bytes.insert("message_bytes".into(), commit_bytes(&out));
            }
            PreparedOp::Process { group, message } => {
                let mut g = group.clone();
                start()?;
                let r = op(measured, || g.process(message));
                stop()?;
                r?;
                if g.epoch() != group.epoch() + 1 {
                    bail!(
                        "{}: processing did not advance the epoch",
                        self.scenario.name
                    );
                }
                bytes.insert("commit_bytes".into(), message.len() as u64);
                bytes.insert("welcome_bytes".into(), 0);
                bytes.insert("message_bytes".into(), message.len() as u64);
            }
            PreparedOp::Join {
                provider,
                welcome,
                kp,
                secrets,
                config,
            } => {
                let config = config.clone();
                start()?;
                let r = op(measured, || {
                    Group::join(*provider, welcome, kp, secrets, None, config)
                });
                stop()?;
                r?;
                bytes.insert("commit_bytes".into(), 0);
                bytes.insert("welcome_bytes".into(), welcome.len() as u64);
                bytes.insert("message_bytes".into(), welcome.len() as u64);
            }
        }
        Ok(bytes)
    }

    /// Run once and return the exact counts: every engine counter between just before and
    /// just after the operation, plus the message sizes. Nothing else may run engine work in
    /// this process at the same time (the counters are process-wide).
    pub fn exact_counts(&self) -> Result<Counts> {
        let mut before = counters::snapshot();
        let mut after = before;
        let mut counts = self.run_with(
            &mut || {
                before = counters::snapshot();
                Ok(())
            },
            &mut || {
                after = counters::snapshot();
                Ok(())
            },
        )?;
        for (name, value) in (after - before).fields() {
            counts.insert(name.to_string(), value);
        }
        Ok(counts)
    }
}

/// The scenario's operation and nothing else: the instruction tier under Valgrind counts
/// exactly the instructions executed between entering and leaving this function
/// (`callgrind --collect-atstart=no --toggle-collect=*measured_operation*`). It must stay a
/// real function of that name — never inlined, whatever the profile — or Callgrind finds
/// nothing to toggle on and counts 0, which [`super::valgrind::measure`] reports as an error.
/// The result goes through [`std::hint::black_box`] so the call cannot be optimised away or
/// merged with its caller.
#[inline(never)]
pub fn measured_operation<R>(f: impl FnOnce() -> R) -> R {
    std::hint::black_box(f())
}

/// Exact counts of `scenarios`, run one after another in this process on `executor`.
pub fn run_exact(scenarios: &[Scenario], executor: Executor) -> Result<Vec<(Scenario, Counts)>> {
    let mut states = States::new(executor);
    let mut out = Vec::new();
    for &s in scenarios {
        let prepared = Prepared::new(s, &mut states)?;
        out.push((s, prepared.exact_counts()?));
    }
    Ok(out)
}
