//! The gate's fixed, seeded scenarios and their exact work counts.
//!
//! Every scenario is one measurement of the catalogue ([`crate::catalogue`]: an operation, a
//! start-state shape, a size) on a group state generated from a fixed seed at a fixed time
//! ([`GATE_NOW`]), with seeded group randomness, so every run performs exactly the same
//! primitives and produces messages of exactly the same sizes. The counts are the engine's
//! process-wide counters ([`canopy_engine::crypto::counters`]) read just before and just after
//! the operation; setup (state generation, cloning the start state) is outside that window.

use std::collections::BTreeMap;

use anyhow::{anyhow, ensure, Context, Result};
use canopy_engine::batch::Executor;
use canopy_engine::crypto::{counters, Secret};
use canopy_engine::group::{GroupConfig, Randomness};
use canopy_engine::key_package::Clock;
use canopy_workloads::states::StateKind;

use crate::catalogue::{self, canopy, Operation, Start};

/// The time every gate state and KeyPackage is centred on: 2026-01-01T00:00:00Z. Fixed so
/// that runs on different days are identical.
pub const GATE_NOW: u64 = 1_767_225_600;

/// Seed of every generated gate state.
pub const GATE_SEED: u64 = 1;

/// Group size of the gate scenarios: large enough that per-member work dominates, small enough
/// that the whole exact tier runs in seconds.
pub const GATE_MEMBERS: u32 = 1000;

/// One gate scenario: a stable name and the catalogue measurement it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// Stable name, the key in the baseline (`commit-populated-1000`).
    pub name: &'static str,
    /// The catalogue operation, start-state shape and size it measures.
    pub measures: catalogue::Scenario,
}

/// A gate scenario named `name` measuring `operation` on `shape` at [`GATE_MEMBERS`].
const fn scenario(name: &'static str, operation: Operation, shape: StateKind) -> Scenario {
    Scenario {
        name,
        measures: catalogue::Scenario {
            operation,
            shape,
            members: GATE_MEMBERS,
        },
    }
}

/// Every gate scenario, in report order. The names predate the catalogue and are the
/// baseline's keys: the commits, adds and removes are the creator's (`commit-creator`,
/// `add1-creator`, `remove1-creator`), on states without guests.
pub const SCENARIOS: &[Scenario] = &[
    scenario(
        "commit-populated-1000",
        Operation::CommitCreator,
        StateKind::Populated,
    ),
    scenario(
        "process-populated-1000",
        Operation::Process,
        StateKind::Populated,
    ),
    scenario(
        "commit-fresh-1000",
        Operation::CommitCreator,
        StateKind::Fresh,
    ),
    scenario("process-fresh-1000", Operation::Process, StateKind::Fresh),
    scenario("join-populated-1000", Operation::Join, StateKind::Populated),
    scenario("bulk-add-1000", Operation::Build, StateKind::Populated),
    scenario(
        "add1-populated-1000",
        Operation::Add1Creator,
        StateKind::Populated,
    ),
    scenario(
        "remove1-populated-1000",
        Operation::Remove1Creator,
        StateKind::Populated,
    ),
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
    inputs: canopy::Prepared,
}

/// Start states, shared by the scenarios that start from the same one.
#[derive(Debug, Default)]
pub struct States {
    states: Vec<((StateKind, u32), Start)>,
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

    /// The start state of `shape` with `members` members: generated, no guests.
    fn get(&mut self, shape: StateKind, members: u32) -> Result<&Start> {
        let key = (shape, members);
        if let Some(i) = self.states.iter().position(|(k, _)| *k == key) {
            return Ok(&self.states[i].1);
        }
        let config = self.config();
        let start = Start::new(shape, members, GATE_SEED, GATE_NOW, config)?;
        self.states.push((key, start));
        let last = self.states.len() - 1;
        Ok(&self.states[last].1)
    }
}

impl Prepared {
    /// Build the inputs of `scenario` (generating its state into `states` if needed; `build`
    /// needs none).
    pub fn new(scenario: Scenario, states: &mut States) -> Result<Self> {
        let m = scenario.measures;
        ensure!(
            !m.operation.needs_joiner(),
            "{}: the gate's states have no joiner ({} is the joiner's)",
            scenario.name,
            m.operation
        );
        let inputs = if m.operation.uses_start_state() {
            canopy::Prepared::new(m.operation, states.get(m.shape, m.members)?)?
        } else {
            canopy::Prepared::build(m.members, GATE_NOW, &states.config())?
        };
        Ok(Prepared { scenario, inputs })
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
        let mut input = self.inputs.input();
        start()?;
        let ran = if measured {
            measured_operation(|| input.run())
        } else {
            input.run()
        };
        stop()?;
        let sizes = self
            .inputs
            .sizes(&input, &ran?)
            .with_context(|| self.scenario.name)?;
        Ok(Counts::from([
            ("commit_bytes".to_string(), sizes.commit_bytes),
            ("welcome_bytes".to_string(), sizes.welcome_bytes),
            ("message_bytes".to_string(), sizes.message_bytes),
        ]))
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
