//! Seeded MLS group states and churn workloads for Canopy (no timing here).
//!
//! - [`states`]: large ratchet trees of several shapes (populated, after removals, fresh,
//!   with unmerged leaves) that pass full RFC 9420 validation, with every member's keys and
//!   live engine state ([`GeneratedState::member_group`]).
//! - [`churn`]: churn workload models (steady churn, waves, reorganisations, multi-device,
//!   long-offline, adversarial) as reproducible operation streams, and commit policies.
//! - [`trace`]: replay of a deployment's directory log (CSV or JSON lines).

pub mod churn;
mod member;
pub mod states;
pub mod trace;

pub use states::{generate, GeneratedState, MemberKeys, StateConfig, StateKind};
