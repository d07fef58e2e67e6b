//! Seeded MLS group states and churn workloads for Canopy (no timing here).
//!
//! - [`states`]: large ratchet trees of several shapes (populated, after removals, fresh,
//!   with unmerged leaves) that pass full RFC 9420 validation, with every member's keys and
//!   live engine state ([`GeneratedState::member_group`]).

mod member;
pub mod states;

pub use states::{generate, GeneratedState, MemberKeys, StateConfig, StateKind};
