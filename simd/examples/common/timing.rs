//! The timing loop the throughput examples share.

use std::time::{Duration, Instant};

/// Median ns per operation of `f`, which does `ops` operations per call: five timed runs of a
/// fifth of `budget` each, after one warm-up call.
pub(crate) fn ns_per_op(budget: Duration, ops: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut runs = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut calls = 0u64;
        while start.elapsed() < budget / 5 {
            f();
            calls += 1;
        }
        runs.push(start.elapsed().as_nanos() as f64 / (calls as f64 * ops as f64));
    }
    runs.sort_by(f64::total_cmp);
    runs[2]
}
