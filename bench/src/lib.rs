//! `canopy_bench`: the library half of the `canopy` CLI crate, shared by the binary, the
//! integration tests and (later) the benches.
//!
//! - [`compare`]: `canopy compare`, Canopy and the peers side by side on one group state.
//! - [`gate`]: `canopy gate`, the performance-regression gate (`scripts/perf-gate`).
//! - [`setup`]: the shared measured group (generated state, Canopy members, joined peers)
//!   used by the criterion benches and the gate.
//! - [`peers`]: byte-level adapters around the peer MLS implementations Canopy is compared
//!   against and interoperates with (openmls, mls-rs).
//! - [`plan`]: `canopy plan` / `canopy merge`, capacity planning over churn workloads.

pub mod compare;
pub mod gate;
pub mod peers;
pub mod plan;
pub mod setup;
