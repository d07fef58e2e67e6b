//! `canopy_bench`: the library half of the `canopy` CLI crate, shared by the binary, the
//! integration tests and (later) the benches.
//!
//! - [`peers`]: byte-level adapters around the peer MLS implementations Canopy is compared
//!   against and interoperates with (openmls, mls-rs).

pub mod peers;
