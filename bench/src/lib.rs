//! `canopy_bench`: the library half of the `canopy` CLI crate, shared by the binary, the
//! integration tests and the criterion benches.
//!
//! - [`catalogue`]: every measured operation and start state, defined once and used by
//!   `compare`, `gate` and the criterion benches.
//! - [`compare`]: `canopy compare`, Canopy and the peers side by side on one group state.
//! - [`costs`]: cost profiles (`canopy calibrate`): what each primitive the engine counts
//!   costs on a host, so exact counts price work without timing it.
//! - [`gate`]: `canopy gate`, the performance-regression gate (`scripts/perf-gate`).
//! - [`peers`]: byte-level adapters around the peer MLS implementations Canopy is compared
//!   against and interoperates with (openmls, mls-rs).
//! - [`plan`]: `canopy plan` / `canopy merge`, capacity planning over churn workloads.
//!
//! Dependencies run one way: `compare`, `gate` and the benches use `catalogue`; `catalogue`
//! and `compare` use `peers`; `compare` and `plan` use `costs`; `plan` uses none of the
//! others. Everything here builds on
//! `canopy_workloads` and `canopy_engine`, never the other way round.

pub mod catalogue;
pub mod compare;
pub mod costs;
pub mod gate;
pub mod peers;
pub mod plan;
