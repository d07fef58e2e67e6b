//! How long a job handed to rayon's pool waits before a worker starts it, from a thread
//! outside the pool (as an application's thread calls the engine): the calling thread spawns
//! a job in `rayon::in_place_scope` and then works for 100 µs, the job records when it
//! started. With a pause before each handoff the workers have gone to sleep, as they have
//! before a member processes a commit; without one they are still spinning.
//!
//! ```sh
//! cargo run --release -p canopy-bench --example pool_wake [-- HANDOFFS]
//! ```

use std::time::{Duration, Instant};

fn main() {
    let handoffs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    println!(
        "{} workers, {handoffs} handoffs per row",
        rayon::current_num_threads()
    );
    for gap_ms in [0u64, 1, 5] {
        let mut waits = Vec::with_capacity(handoffs);
        for _ in 0..handoffs {
            if gap_ms > 0 {
                std::thread::sleep(Duration::from_millis(gap_ms));
            }
            let handed = Instant::now();
            let mut started = None;
            rayon::in_place_scope(|s| {
                s.spawn(|_| started = Some(handed.elapsed()));
                let busy = Instant::now();
                while busy.elapsed() < Duration::from_micros(100) {
                    std::hint::spin_loop();
                }
            });
            // `in_place_scope` returns once the spawned job has run.
            let started = started.expect("the scope ran its job");
            waits.push(started.as_secs_f64() * 1e6);
        }
        waits.sort_by(f64::total_cmp);
        let at = |q: f64| waits[((waits.len() - 1) as f64 * q) as usize];
        println!(
            "pause {gap_ms} ms before each handoff: the job starts after p10 {:.1} µs, median {:.1} µs, p90 {:.1} µs",
            at(0.1),
            at(0.5),
            at(0.9)
        );
    }
}
