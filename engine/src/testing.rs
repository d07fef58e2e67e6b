//! Testing-only switches (feature `planted-regression`). Nothing here changes behaviour unless
//! a switch is turned on at run time, so builds with `--all-features` behave like any other.
//!
//! The performance-regression gate (`canopy gate`, `scripts/perf-gate`) proves it can fail by
//! turning [`set_planted_regression`] on: every commit then hashes [`PLANTED_HASH_BYTES`]
//! extra bytes, which the gate must report as a `hash_bytes` regression of the commit
//! scenarios.

use core::sync::atomic::{AtomicBool, Ordering};

static PLANTED: AtomicBool = AtomicBool::new(false);

/// Extra bytes hashed by every commit while the planted regression is on.
pub const PLANTED_HASH_BYTES: usize = 64;

/// Turn the planted regression on or off (process-wide; off at start).
pub fn set_planted_regression(on: bool) {
    PLANTED.store(on, Ordering::Relaxed);
}

/// Whether the planted regression is on.
pub fn planted_regression() -> bool {
    PLANTED.load(Ordering::Relaxed)
}

/// The planted extra work: hash [`PLANTED_HASH_BYTES`] zero bytes if the switch is on.
pub(crate) fn plant(provider: &crate::crypto::Provider) {
    if planted_regression() {
        let _ = provider.hash(&[0u8; PLANTED_HASH_BYTES]);
    }
}
